import type { IncomingMessage, ServerResponse } from 'node:http';

/** Declared or received body over the size limit: 413 `too_large`. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body is larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Taking the body would pass the process's budget for unverified bytes: 503 `busy`. */
export class BodyBudgetExceededError extends Error {
  constructor(readonly budget: number) {
    super(`the ${budget}-byte budget for unverified webhook bodies is in use`);
    this.name = 'BodyBudgetExceededError';
  }
}

/** The body did not arrive in time: 408 `body_timeout`. */
export class BodyTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`body not received within ${timeoutMs} ms`);
    this.name = 'BodyTimeoutError';
  }
}

/** The client went away before its body ended: `client_aborted`, not our failure. */
export class ClientAbortedError extends Error {
  constructor() {
    super('the client closed the connection before the body ended');
    this.name = 'ClientAbortedError';
  }
}

/**
 * The bytes of webhook bodies held before their signature is checked, counted for the whole
 * process (the Raise and CRM+ receivers share it). A body takes its share before it is read
 * (its Content-Length) or as its chunks arrive (chunked), and gives it back once it is verified
 * or refused, so unauthenticated callers can never make the process hold more than `maxBytes`.
 */
export class UnverifiedBytes {
  private held = 0;

  constructor(readonly maxBytes: number) {}

  get heldBytes(): number {
    return this.held;
  }

  /** Takes `bytes` if they fit; false (nothing taken) if they would pass the budget. */
  take(bytes: number): boolean {
    if (this.held + bytes > this.maxBytes) {
      return false;
    }
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }
}

/** A body read under the budget; `release()` (idempotent) gives its bytes back once verified. */
export interface HeldBody {
  readonly bytes: Buffer;
  release(): void;
}

export interface ReadLimits {
  /** Largest body accepted. */
  maxBytes: number;
  /** Longest time from the start of reading to the end of the body. */
  timeoutMs: number;
  /** Bytes shared by every body read under it (unverified webhook bodies); none: no bound. */
  budget?: UnverifiedBytes;
}

/**
 * Reads a request body as bytes within the limits. Before reading anything, a declared
 * Content-Length over `maxBytes` fails (413) and one that does not fit the budget fails (503);
 * a body without a length takes budget chunk by chunk and fails the same way once it passes
 * either. A body still incomplete after `timeoutMs` fails (408), and a client that disconnects
 * fails with ClientAbortedError. On any failure the chunks read so far are dropped and the
 * budget is given back at once; the rest of the body is discarded, never kept (answer with
 * `Connection: close`, see `closeAfterAnswer`). Signatures are checked over exactly these bytes,
 * so nothing may parse or re-encode the body first.
 */
export function readBody(req: IncomingMessage, limits: ReadLimits): Promise<HeldBody> {
  const { maxBytes, timeoutMs, budget } = limits;
  return new Promise((resolve, reject) => {
    if (req.destroyed || req.readableAborted) {
      reject(new ClientAbortedError());
      return;
    }
    const declaredText = req.headers['content-length'];
    const declared = declaredText === undefined ? Number.NaN : Number(declaredText);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(new BodyTooLargeError(maxBytes));
      return;
    }
    let taken = 0;
    if (budget && Number.isFinite(declared) && declared > 0) {
      if (!budget.take(declared)) {
        reject(new BodyBudgetExceededError(budget.maxBytes));
        return;
      }
      taken = declared;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const giveBack = (): void => {
      budget?.give(taken);
      taken = 0;
    };
    const fail = (error: Error): void => {
      if (settled) {
        return;
      }
      settled = true;
      cleanup();
      chunks.length = 0;
      giveBack();
      // Discard whatever still arrives; the answer closes the connection.
      req.resume();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        fail(new BodyTooLargeError(maxBytes));
        return;
      }
      if (budget && size > taken) {
        if (!budget.take(size - taken)) {
          fail(new BodyBudgetExceededError(budget.maxBytes));
          return;
        }
        taken = size;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      if (settled) {
        return;
      }
      settled = true;
      cleanup();
      // A body shorter than declared cannot end normally (the parser waits), but stay exact.
      if (taken > size) {
        budget?.give(taken - size);
        taken = size;
      }
      const bytes = Buffer.concat(chunks, size);
      chunks.length = 0;
      resolve({ bytes, release: giveBack });
    };
    const onError = (): void => fail(new ClientAbortedError());
    const onClose = (): void => {
      if (!req.complete) {
        fail(new ClientAbortedError());
      }
    };
    const timer = setTimeout(() => fail(new BodyTimeoutError(timeoutMs)), timeoutMs);
    timer.unref();
    const cleanup = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * Before answering a request whose body was not (fully) read (refused, too large, timed out):
 * ask for the connection to be closed, so Node ends it right after the answer instead of reading
 * the rest of the body to keep the connection alive. `res` defaults to the one Express attaches.
 */
export function closeAfterAnswer(
  req: IncomingMessage,
  res?: { setHeader(name: string, value: string): unknown; headersSent?: boolean },
): void {
  const target = res ?? (req as IncomingMessage & { res?: ServerResponse }).res;
  if (!req.complete && target && !target.headersSent) {
    target.setHeader('connection', 'close');
  }
}
