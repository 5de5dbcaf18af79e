/**
 * The retry topic for a wait of `delayMs`: the shortest tier whose delay covers it (the longest
 * tier for anything longer), so a message never sits in a tier behind others due much sooner.
 */
export function retryTierFor(delayMs: number, tierDelaysMs: readonly number[]): number {
  const tier = tierDelaysMs.findIndex((tierDelay) => tierDelay >= delayMs);
  return tier === -1 ? tierDelaysMs.length - 1 : tier;
}
