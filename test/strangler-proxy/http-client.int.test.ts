import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { HttpPool, type HttpRequest } from '../../strangler-proxy/http-client';
import { eventually, freePort } from '../helpers';

interface Answer {
  status: number;
  headers: string[];
  body: string;
}

/** Sends one request through `pool`; `onHeaders` may pause reading (return false) and gets `resume`. */
function send(pool: HttpPool, request: Partial<HttpRequest>, onHeaders?: (resume: () => void) => boolean): { answer: Promise<Answer>; abort: (reason: Error) => void } {
  let abort!: (reason: Error) => void;
  const answer = new Promise<Answer>((resolve, reject) => {
    let status = 0;
    let headers: string[] = [];
    const chunks: Buffer[] = [];
    pool.dispatch(
      { method: 'GET', path: '/', headers: ['host', 'upstream'], body: null, ...request },
      {
        onConnect: (stop) => (abort = stop),
        onHeaders: (code, list, resume) => {
          status = code;
          headers = list;
          return onHeaders ? onHeaders(resume) : true;
        },
        onData: (chunk) => chunks.push(chunk) > 0,
        onComplete: () => resolve({ status, headers, body: Buffer.concat(chunks).toString() }),
        onError: reject,
      },
    );
  });
  return { answer, abort };
}

describe('lean HTTP/1.1 upstream client', () => {
  let server: http.Server;
  let origin: string;
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let handle: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  const pools: HttpPool[] = [];
  const poolFor = (connections = 4, idleTimeoutMs?: number) => {
    const pool = new HttpPool({ origin, connections, connectTimeoutMs: 1_000, idleTimeoutMs });
    pools.push(pool);
    return pool;
  };

  beforeAll(async () => {
    server = http.createServer((req, res) => handle(req, res));
    server.on('connection', (socket) => {
      connections += 1;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    connections = 0;
    handle = (req, res) => res.end(`${req.method} ${req.url}`);
  });
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('reuses one keep-alive connection for requests in turn, headers passed as listed', async () => {
    const pool = poolFor();
    handle = (req, res) => {
      res.setHeader('X-Seen', `${req.headers['x-one']}|${req.rawHeaders.includes('X-One')}`);
      res.end(`${req.method} ${req.url}`);
    };
    for (let index = 0; index < 5; index++) {
      const { answer } = send(pool, { path: `/n/${index}`, headers: ['host', 'upstream', 'X-One', '1'] });
      await expect(answer).resolves.toMatchObject({ status: 200, body: `GET /n/${index}`, headers: expect.arrayContaining(['X-Seen', '1|true']) });
    }
    expect(connections).toBe(1);
  });

  it('opens at most `connections` connections and queues the rest in order', async () => {
    const pool = poolFor(2);
    const held: http.ServerResponse[] = [];
    handle = (req, res) => held.push(res);
    const answers = [0, 1, 2, 3].map((index) => send(pool, { path: `/q/${index}` }).answer);
    await eventually(() => held.length === 2, 5_000, 'two requests at the upstream');
    expect(connections).toBe(2);
    handle = (req, res) => res.end(req.url);
    for (const res of held) res.end(res.req.url);
    expect((await Promise.all(answers)).map((answer) => answer.body)).toEqual(['/q/0', '/q/1', '/q/2', '/q/3']);
    expect(connections).toBe(2);
  });

  it('sends a Buffer body with its length and a stream without one chunked', async () => {
    const pool = poolFor();
    handle = (req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => res.end(`${req.headers['content-length'] ?? '-'} ${req.headers['transfer-encoding'] ?? '-'} ${body}`));
    };
    await expect(send(pool, { method: 'POST', body: Buffer.from('buffered') }).answer).resolves.toMatchObject({ body: '8 - buffered' });
    await expect(send(pool, { method: 'POST', body: Readable.from([Buffer.from('str'), Buffer.from('eamed')]) }).answer).resolves.toMatchObject({ body: '- chunked streamed' });
    await expect(send(pool, { method: 'POST', headers: ['host', 'upstream', 'content-length', '4'], body: Readable.from([Buffer.from('four')]) }).answer).resolves.toMatchObject({ body: '4 - four' });
    expect(connections).toBe(1);
  });

  it('stops reading while the handler is paused, and reads on after resume', async () => {
    const pool = poolFor();
    const big = 'x'.repeat(4 * 1024 * 1024);
    handle = (req, res) => res.end(big);
    let resume: (() => void) | undefined;
    const { answer } = send(pool, {}, (resumeReading) => {
      resume = resumeReading;
      return false;
    });
    await eventually(() => resume, 5_000, 'response headers');
    // Paused: the upstream's socket fills and stops; nothing completes until resume.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const race = await Promise.race([answer.then(() => 'completed'), new Promise((resolve) => setTimeout(() => resolve('pending'), 50))]);
    expect(race).toBe('pending');
    resume!();
    expect((await answer).body.length).toBe(big.length);
  });

  it('fails with SFG_HTTP_SOCKET_CLOSED when the upstream closes before answering, and opens a new connection next', async () => {
    const pool = poolFor();
    handle = (req) => req.socket.destroy();
    await expect(send(pool, {}).answer).rejects.toMatchObject({ code: 'SFG_HTTP_SOCKET_CLOSED', message: expect.stringContaining('before responding') });
    handle = (req, res) => res.end('fine');
    await expect(send(pool, {}).answer).resolves.toMatchObject({ body: 'fine' });
    expect(connections).toBe(2);
  });

  it('fails a response cut in its body, and one that breaks framing', async () => {
    const pool = poolFor();
    handle = (req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    await expect(send(pool, {}).answer).rejects.toMatchObject({ code: 'SFG_HTTP_SOCKET_CLOSED', message: expect.stringContaining('middle of its response') });
    handle = (req) => req.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nok');
    await expect(send(pool, {}).answer).rejects.toMatchObject({ code: 'SFG_HTTP_BAD_RESPONSE' });
  });

  it('refuses a header that would inject a line, without writing anything, and the connection stays usable', async () => {
    const pool = poolFor(1);
    await expect(send(pool, {}).answer).resolves.toMatchObject({ status: 200 });
    await expect(send(pool, { headers: ['host', 'upstream', 'x-evil', 'a\r\nx-injected: 1'] }).answer).rejects.toMatchObject({ code: 'SFG_HTTP_INVALID_REQUEST' });
    await expect(send(pool, { path: '/a b' }).answer).rejects.toMatchObject({ code: 'SFG_HTTP_INVALID_REQUEST' });
    await expect(send(pool, {}).answer).resolves.toMatchObject({ status: 200 });
    expect(connections).toBe(1);
  });

  it('reports a refused connection with its system code', async () => {
    const port = await freePort();
    const pool = new HttpPool({ origin: `http://127.0.0.1:${port}`, connections: 2, connectTimeoutMs: 1_000 });
    pools.push(pool);
    await expect(send(pool, {}).answer).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('aborts a queued request without touching the running one, and a running one by dropping its connection', async () => {
    const pool = poolFor(1);
    let held: http.ServerResponse | undefined;
    handle = (req, res) => (held = res);
    const running = send(pool, { path: '/running' });
    const queued = send(pool, { path: '/queued' });
    await eventually(() => held, 5_000, 'the running request at the upstream');
    queued.abort(new Error('gave up waiting'));
    await expect(queued.answer).rejects.toThrow('gave up waiting');
    running.abort(new Error('client left'));
    await expect(running.answer).rejects.toThrow('client left');
    await eventually(() => sockets.size === 0, 5_000, 'the aborted connection closed');
    handle = (req, res) => res.end('after');
    await expect(send(pool, {}).answer).resolves.toMatchObject({ body: 'after' });
  });

  it('closes idle connections after idleTimeoutMs', async () => {
    const pool = poolFor(2, 300);
    await send(pool, {}).answer;
    expect(sockets.size).toBe(1);
    await eventually(() => sockets.size === 0, 5_000, 'the idle connection closed');
  });

  it('close() lets running requests finish; destroy() fails queued ones with SFG_HTTP_POOL_CLOSED', async () => {
    const graceful = poolFor(1);
    let held: http.ServerResponse | undefined;
    handle = (req, res) => (held = res);
    const running = send(graceful, {});
    await eventually(() => held, 5_000, 'the request at the upstream');
    const closed = graceful.close();
    await expect(send(graceful, {}).answer).rejects.toMatchObject({ code: 'SFG_HTTP_POOL_CLOSED' });
    held!.end('finished');
    await expect(running.answer).resolves.toMatchObject({ body: 'finished' });
    await closed;

    const destroyed = poolFor(1);
    held = undefined;
    const first = send(destroyed, {});
    const second = send(destroyed, {});
    await eventually(() => held, 5_000, 'the request at the upstream');
    const bothFail = Promise.all([first.answer, second.answer].map((answer) => expect(answer).rejects.toMatchObject({ code: 'SFG_HTTP_POOL_CLOSED' })));
    await destroyed.destroy();
    await bothFail;
    expect(destroyed.destroyed).toBe(true);
  });
});
