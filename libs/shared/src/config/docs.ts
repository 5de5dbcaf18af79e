import type { AnyConfigSection, Variable } from './declare';

/** The markers around a section's generated table in a Markdown file. */
export function tableMarkers(owner: string): { start: string; end: string } {
  return { start: `<!-- config:${owner} -->`, end: `<!-- /config:${owner} -->` };
}

function defaultCell(declared: Variable<unknown>): string {
  if (declared.required) {
    return 'required';
  }
  if (declared.defaultText !== undefined) {
    return `\`${declared.defaultText}\``;
  }
  return declared.unsetText ? `unset: ${declared.unsetText}` : 'unset';
}

/** A Markdown table of one section's variables, laid out the way Prettier lays out tables. */
export function configTable(section: AnyConfigSection): string {
  const rows = Object.entries(section.variables).map(([name, declared]) => [
    `\`${name}\``,
    defaultCell(declared),
    declared.secret ? `${declared.description} (secret)` : declared.description,
  ]);
  const all = [['variable', 'default', 'meaning'], ...rows].map((row) =>
    row.map((cell) => cell.replace(/\|/g, '\\|')),
  );
  const widths = [0, 1, 2].map((i) => Math.max(3, ...all.map((row) => [...(row[i] ?? '')].length)));
  const line = (row: string[]): string =>
    `| ${row.map((cell, i) => cell + ' '.repeat((widths[i] ?? 0) - [...cell].length)).join(' | ')} |`;
  const [header, ...body] = all;
  return [
    line(header ?? []),
    line(widths.map((width) => '-'.repeat(width))),
    ...body.map(line),
  ].join('\n');
}

/**
 * The Markdown text with each section's table, between its markers, regenerated from the
 * declarations. Throws when a section's markers are missing.
 */
export function withConfigTables(markdown: string, sections: readonly AnyConfigSection[]): string {
  let text = markdown;
  for (const section of sections) {
    const { start, end } = tableMarkers(section.owner);
    const from = text.indexOf(start);
    const to = text.indexOf(end);
    if (from < 0 || to < from) {
      throw new Error(`no ${start} … ${end} markers for the table of ${section.owner}`);
    }
    text = `${text.slice(0, from + start.length)}\n\n${configTable(section)}\n\n${text.slice(to)}`;
  }
  return text;
}
