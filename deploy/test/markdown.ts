import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** The repository root, wherever it is checked out. */
export const REPO_ROOT = resolve(__dirname, '../..');

/**
 * The repository's prose: the README, every file in docs/ and each app's and library's README.
 * Paths are relative to the repository root.
 */
export function documentationFiles(): string[] {
  const files = ['README.md'];
  const docs = join(REPO_ROOT, 'docs');
  for (const name of readdirSync(docs).sort()) {
    if (name.endsWith('.md')) files.push(`docs/${name}`);
  }
  for (const parent of ['apps', 'libs', 'tools']) {
    const dir = join(REPO_ROOT, parent);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const readme = join(dir, name, 'README.md');
      if (existsSync(readme)) files.push(relative(REPO_ROOT, readme));
    }
  }
  return files;
}

/** The text with fenced code blocks and inline code spans blanked out (links there are examples). */
function withoutCode(text: string): string {
  return text
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, ' '))
    .replace(/(`+)[^`\n][\s\S]*?\1/g, (span) => span.replace(/[^\n]/g, ' '));
}

/** GitHub's anchor for a heading's text: lower case, punctuation dropped, spaces to hyphens. */
export function githubSlug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link keeps its text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a markdown file offers: one per heading, repeats numbered as GitHub does. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const prose = text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const match of prose.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const slug = githubSlug(match[1] ?? '');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

export interface MarkdownLink {
  /** The file the link is in, relative to the repository root. */
  file: string;
  line: number;
  target: string;
}

/** Every inline link and image of a markdown file whose target is inside the repository. */
export function relativeLinks(
  file: string,
  markdown = readFileSync(join(REPO_ROOT, file), 'utf8'),
): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  withoutCode(markdown)
    .split('\n')
    .forEach((content, index) => {
      for (const match of content.matchAll(/!?\[[^\]]*\]\(<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)) {
        const target = match[1] ?? '';
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        links.push({ file, line: index + 1, target });
      }
    });
  return links;
}

/** Why a link does not resolve, or undefined when it does. */
export function brokenLink(link: MarkdownLink): string | undefined {
  const hash = link.target.indexOf('#');
  const path = hash < 0 ? link.target : link.target.slice(0, hash);
  const anchor = hash < 0 ? undefined : decodeURIComponent(link.target.slice(hash + 1));
  const absolute =
    path === '' ? join(REPO_ROOT, link.file) : resolve(dirname(join(REPO_ROOT, link.file)), path);
  if (relative(REPO_ROOT, absolute).startsWith('..')) return 'points outside the repository';
  if (!existsSync(absolute)) return 'no such file';
  if (anchor === undefined) return undefined;
  if (!absolute.endsWith('.md') || statSync(absolute).isDirectory()) return undefined;
  const anchors = anchorsOf(readFileSync(absolute, 'utf8'));
  return anchors.has(anchor)
    ? undefined
    : `no heading #${anchor} in ${relative(REPO_ROOT, absolute)}`;
}
