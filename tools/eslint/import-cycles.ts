import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * Import cycles among the TypeScript files under some folders: each cycle is a strongly connected
 * set of files (more than one), as paths relative to `base`, sorted. Relative imports only (a
 * cycle across projects is the module-boundary rule's business), type-only imports included: a
 * loop that only types close still ties the files into one unit that cannot be split or moved.
 */
export function importCycles(base: string, folders: string[]): string[][] {
  const files = new Set(folders.flatMap((folder) => typeScriptFiles(resolve(base, folder))));
  const imports = new Map<string, string[]>();
  for (const file of files) {
    const found = ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles;
    imports.set(
      file,
      found
        .map((entry) => entry.fileName)
        .filter((name) => name.startsWith('.'))
        .map((name) => resolveImport(files, dirname(file), name))
        .filter((target): target is string => target !== undefined),
    );
  }
  return stronglyConnected(imports)
    .filter((group) => group.length > 1)
    .map((group) => group.map((file) => relative(base, file)).sort())
    .sort((a, b) => a[0]!.localeCompare(b[0]!));
}

function typeScriptFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      return entry.name === 'node_modules' ? [] : typeScriptFiles(path);
    }
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function resolveImport(files: Set<string>, from: string, name: string): string | undefined {
  const target = resolve(from, name);
  return [`${target}.ts`, join(target, 'index.ts')].find((candidate) => files.has(candidate));
}

/** Tarjan's algorithm, iterative so that a deep import chain cannot overflow the stack. */
function stronglyConnected(graph: Map<string, string[]>): string[][] {
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  let next = 0;
  for (const root of graph.keys()) {
    if (order.has(root)) {
      continue;
    }
    const work: Array<{ node: string; edge: number }> = [{ node: root, edge: 0 }];
    order.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const edges = graph.get(frame.node) ?? [];
      if (frame.edge < edges.length) {
        const target = edges[frame.edge++]!;
        if (!order.has(target)) {
          order.set(target, next);
          low.set(target, next++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, edge: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, order.get(target)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) {
        low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) === order.get(frame.node)) {
        const group: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          group.push(member);
        } while (member !== frame.node);
        groups.push(group);
      }
    }
  }
  return groups;
}
