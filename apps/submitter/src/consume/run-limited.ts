/** Runs the tasks, at most `limit` at a time; the first failure is thrown after all settle. */
export async function runLimited(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) {
        const task = tasks[next++] as () => Promise<void>;
        await task().catch((error: unknown) => errors.push(error));
      }
    }),
  );
  if (errors.length > 0) {
    throw errors[0];
  }
}
