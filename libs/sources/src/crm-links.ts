/** One link to the CRM+ (or other integration) record behind a Raise record. */
export interface CrmLink {
  integration: string;
  url: string;
  name: string | null;
}

/**
 * A Raise record's `crmKeyUrls` (integration type → { url, name }) as a flat list of links, the
 * form operators follow from alerts and the console. Anything malformed is left out.
 */
export function crmLinks(crmKeyUrls: unknown): CrmLink[] {
  if (typeof crmKeyUrls !== 'object' || crmKeyUrls === null || Array.isArray(crmKeyUrls)) {
    return [];
  }
  const links: CrmLink[] = [];
  for (const [integration, info] of Object.entries(crmKeyUrls as Record<string, unknown>)) {
    if (typeof info !== 'object' || info === null) {
      continue;
    }
    const { url, name } = info as { url?: unknown; name?: unknown };
    if (typeof url === 'string' && url !== '') {
      links.push({ integration, url, name: typeof name === 'string' ? name : null });
    }
  }
  return links;
}
