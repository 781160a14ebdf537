import type http from 'node:http';
import { forwardedResponseHeaders, headerObject, upgradeHeaders, upstreamHeaderList } from '../../strangler-proxy/forward/headers';

function incoming(headers: http.IncomingHttpHeaders, encrypted = false): http.IncomingMessage {
  return { headers, socket: { remoteAddress: '10.1.1.1', encrypted } } as unknown as http.IncomingMessage;
}

const raw = (...pairs: string[]) => pairs.map((text) => Buffer.from(text, 'latin1'));

describe('upstream request headers', () => {
  it('leads with host, strips hop-by-hop and Connection-listed headers, and sets X-Forwarded-* and X-Request-Id', () => {
    const list = upstreamHeaderList(
      incoming({
        host: 'shop.example',
        connection: 'keep-alive, x-internal',
        'keep-alive': 'timeout=5',
        'x-internal': 'secret',
        expect: '100-continue',
        te: 'trailers',
        'x-request-id': 'old',
        'x-forwarded-for': '192.0.2.7',
        'x-forwarded-host': 'spoofed.example',
        accept: 'application/json',
      }),
      'req-1',
      false,
    );
    expect(list.slice(0, 2)).toEqual(['host', '']);
    expect(headerObject(list.slice(2))).toEqual({
      accept: 'application/json',
      'x-forwarded-for': '192.0.2.7, 10.1.1.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'shop.example',
      'x-request-id': 'req-1',
    });
  });

  it('keeps a load balancer’s X-Forwarded-Host and -Proto when trusted, and says https for a TLS socket otherwise', () => {
    const headers = { host: 'proxy.internal', 'x-forwarded-host': 'shop.example', 'x-forwarded-proto': 'https' };
    expect(headerObject(upstreamHeaderList(incoming(headers), 'r', true))).toMatchObject({ 'x-forwarded-host': 'shop.example', 'x-forwarded-proto': 'https' });
    expect(headerObject(upstreamHeaderList(incoming({ host: 'proxy.internal' }, true), 'r', false))).toMatchObject({ 'x-forwarded-proto': 'https' });
  });

  it('sends each value of a repeated header, and an object gets them back as a list', () => {
    const list = upstreamHeaderList(incoming({ 'set-cookie': ['a=1', 'b=2'] }), 'r', false);
    expect(list.filter((_, index) => list[index - 1] === 'set-cookie')).toEqual(['a=1', 'b=2']);
    expect(headerObject(list)['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(headerObject(list)).not.toHaveProperty('x-forwarded-host');
  });

  it('keeps Upgrade for an upgrade request, with the host it is given', () => {
    const headers = upgradeHeaders(incoming({ host: 'shop.example', connection: 'Upgrade', upgrade: 'websocket' }), 'r', false, 'orders:8080');
    expect(headers).toMatchObject({ host: 'orders:8080', connection: 'upgrade', upgrade: 'websocket', 'x-forwarded-host': 'shop.example' });
  });
});

describe('forwarded response headers', () => {
  it('passes names as the upstream spelt them, drops hop-by-hop and Connection-listed ones, and adds the request id and a new session cookie', () => {
    const headers = forwardedResponseHeaders(
      raw('Content-Type', 'application/json', 'Connection', 'keep-alive, X-Debug', 'Keep-Alive', 'timeout=5', 'X-Debug', '1', 'Transfer-Encoding', 'chunked', 'TE', 'x', 'Set-Cookie', 'a=1'),
      'req-1',
      'sid=abc',
    );
    expect(headers).toEqual(['Content-Type', 'application/json', 'Set-Cookie', 'a=1', 'x-request-id', 'req-1', 'set-cookie', 'sid=abc']);
  });
});
