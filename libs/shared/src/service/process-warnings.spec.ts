import { routeProcessWarnings, type WarningSink } from './process-warnings';

describe('routeProcessWarnings', () => {
  let saved: NodeJS.WarningListener[];
  beforeEach(() => {
    saved = process.listeners('warning');
  });
  afterEach(() => {
    process.removeAllListeners('warning');
    for (const listener of saved) {
      process.on('warning', listener);
    }
  });

  // Jest's sandbox gives the test a process object of its own, which Node's emitWarning does not
  // emit on: call the listener the function installed, as Node would.
  const emitted = (message: string, name: string): void => {
    const warning = Object.assign(new Error(message), { name });
    for (const listener of process.listeners('warning')) {
      listener(warning);
    }
  };

  it('hands every process warning to the sink as fields, at warn level, with URLs redacted', () => {
    const lines: Array<[string, Record<string, unknown>]> = [];
    const sink: WarningSink = (level, fields) => lines.push([level, fields]);
    routeProcessWarnings('submitter').use(sink);
    emitted('fetching https://user:secret@example.org/x?token=abc is slow', 'ExperimentalWarning');
    expect(lines).toHaveLength(1);
    const [level, fields] = lines[0] ?? [];
    expect(level).toBe('warn');
    expect(fields).toMatchObject({ msg: 'process warning', warning: 'ExperimentalWarning' });
    expect(String(fields?.['error'])).not.toContain('secret');
    expect(String(fields?.['error'])).not.toContain('abc');
  });

  it('replaces Node’s own printer, so no bare text reaches stderr', () => {
    routeProcessWarnings('ingest');
    expect(process.listeners('warning')).toHaveLength(1);
  });
});
