/** A Dockerfile reader for the tests: stages and their instructions (no Docker engine runs here). */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '../..');

export interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  args: string;
}

export interface Stage {
  from: string;
  name: string | null;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** Instructions before the first FROM (global ARGs). */
  preamble: Instruction[];
  stages: Stage[];
}

export function readDockerfile(relativePath: string): Dockerfile {
  return parseDockerfile(readFileSync(join(REPO_ROOT, relativePath), 'utf8'));
}

export function parseDockerfile(text: string): Dockerfile {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trim().startsWith('#'))) {
      continue;
    }
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(`${pending}${line.trim()}`);
    pending = '';
  }
  const result: Dockerfile = { preamble: [], stages: [] };
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line);
    if (!match) {
      continue;
    }
    const instruction = { keyword: (match[1] ?? '').toUpperCase(), args: match[2] ?? '' };
    if (instruction.keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      result.stages.push({ from: from?.[1] ?? '', name: from?.[2] ?? null, instructions: [] });
    } else if (result.stages.length === 0) {
      result.preamble.push(instruction);
    } else {
      result.stages[result.stages.length - 1]?.instructions.push(instruction);
    }
  }
  return result;
}

/** The exec-form (JSON array) arguments of an instruction such as CMD, or null for shell form. */
export function execForm(instruction: Instruction | undefined): string[] | null {
  if (!instruction?.args.startsWith('[')) {
    return null;
  }
  return JSON.parse(instruction.args) as string[];
}

/** The image name a Dockerfile declares for itself (org.opencontainers.image.title label). */
export function dockerfileImageTitle(relativePath: string): string | null {
  const file = readDockerfile(relativePath);
  const final = file.stages[file.stages.length - 1];
  for (const label of final?.instructions.filter((i) => i.keyword === 'LABEL') ?? []) {
    const match = /org\.opencontainers\.image\.title="([^"]+)"/.exec(label.args);
    if (match) {
      return match[1] ?? null;
    }
  }
  return null;
}
