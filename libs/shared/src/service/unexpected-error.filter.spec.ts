import { Logger, NotFoundException, type ArgumentsHost, type HttpServer } from '@nestjs/common';
import { UnexpectedErrorFilter } from './unexpected-error.filter';

function harness() {
  const replies: Array<{ body: unknown; status: number }> = [];
  const adapter = {
    isHeadersSent: () => false,
    reply: (_res: unknown, body: unknown, status: number) => replies.push({ body, status }),
  } as unknown as HttpServer;
  const req = { method: 'GET', path: '/admin/things/1', route: { path: '/admin/things/:id' } };
  const host = {
    getType: () => 'http',
    getArgByIndex: (i: number) => (i === 0 ? req : {}),
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => ({}) }),
  } as unknown as ArgumentsHost;
  return { filter: new UnexpectedErrorFilter(adapter), host, replies };
}

describe(UnexpectedErrorFilter.name, () => {
  it('answers a bug with a generic 500: no message, no stack; logs it with the route', () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const { filter, host, replies } = harness();
    filter.catch(new TypeError('secret detail at /srv/app.js:12'), host);
    expect(logged).toHaveBeenCalledWith(
      expect.objectContaining({ method: 'GET', route: '/admin/things/:id' }),
      'unexpected error: answered 500',
    );
    logged.mockRestore();
    expect(replies).toEqual([
      { status: 500, body: { statusCode: 500, message: 'Internal server error' } },
    ]);
  });

  it('answers HttpExceptions and errors carrying a 4xx status as they say', () => {
    const { filter, host, replies } = harness();
    filter.catch(new NotFoundException('customer x does not exist'), host);
    filter.catch(
      Object.assign(new URIError("Failed to decode param '%E0%A4%A'"), {
        statusCode: 400,
        status: 400,
      }),
      host,
    );
    expect(replies.map((r) => r.status)).toEqual([404, 400]);
    expect(replies[0]?.body).toMatchObject({ message: 'customer x does not exist' });
  });
});
