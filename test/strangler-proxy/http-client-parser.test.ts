import { ResponseParser, type ResponseEvents } from '../../strangler-proxy/http-client/response-parser';

/** Feeds `chunks` to a parser and records what it reports. */
function parse(chunks: string[], headRequest = false) {
  const seen = { heads: [] as Array<{ status: number; headers: string[] }>, body: '', ended: 0 };
  const events: ResponseEvents = {
    onHead: (status, headers) => seen.heads.push({ status, headers }),
    onBody: (chunk) => (seen.body += chunk.toString('latin1')),
    onEnd: () => (seen.ended += 1),
  };
  const parser = new ResponseParser(events);
  parser.reset(headRequest);
  let error: Error | undefined;
  for (const chunk of chunks) {
    error = parser.execute(Buffer.from(chunk, 'latin1'));
    if (error) break;
  }
  return Object.assign(seen, { error, parser });
}

describe('HTTP/1.1 response parser', () => {
  it('reads a Content-Length body, keeping header names as sent', () => {
    const result = parse(['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello']);
    expect(result.heads).toEqual([{ status: 200, headers: ['Content-Type', 'text/plain', 'Content-Length', '5'] }]);
    expect(result.body).toBe('hello');
    expect(result.ended).toBe(1);
    expect(result.parser.keepAlive).toBe(true);
  });

  it('reads a chunked body split anywhere, with extensions and trailers', () => {
    const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n';
    for (let split = 1; split < wire.length; split += 7) {
      const result = parse([wire.slice(0, split), wire.slice(split)]);
      expect(result.error).toBeUndefined();
      expect(result.body).toBe('hello world');
      expect(result.ended).toBe(1);
    }
    const byteByByte = parse([...wire]);
    expect(byteByByte.body).toBe('hello world');
    expect(byteByByte.ended).toBe(1);
  });

  it('skips 1xx responses and reports only the final one', () => {
    const result = parse(['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n']);
    expect(result.heads.map((head) => head.status)).toEqual([201]);
    expect(result.ended).toBe(1);
  });

  it('reads no body for HEAD, 204 and 304 whatever the length says', () => {
    expect(parse(['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'], true)).toMatchObject({ ended: 1, body: '' });
    expect(parse(['HTTP/1.1 204 No Content\r\n\r\n'])).toMatchObject({ ended: 1, body: '' });
    expect(parse(['HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n'])).toMatchObject({ ended: 1, body: '' });
  });

  it('reads a body without a length until the connection closes, and never reuses that connection', () => {
    const result = parse(['HTTP/1.1 200 OK\r\n\r\nsome ', 'bytes']);
    expect(result.ended).toBe(0);
    expect(result.parser.closed()).toBe(true);
    expect(result).toMatchObject({ ended: 1, body: 'some bytes' });
    expect(result.parser.keepAlive).toBe(false);
  });

  it('keeps HTTP/1.0 connections only when asked to, and drops HTTP/1.1 ones that say close', () => {
    expect(parse(['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n']).parser.keepAlive).toBe(false);
    expect(parse(['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n']).parser.keepAlive).toBe(true);
    expect(parse(['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n']).parser.keepAlive).toBe(false);
  });

  it('refuses what request smuggling needs, naming the problem', () => {
    const refused = (wire: string) => parse([wire]).error;
    expect(refused('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n')).toMatchObject({ code: 'SFG_HTTP_BAD_RESPONSE', message: expect.stringContaining('both Content-Length and Transfer-Encoding') });
    expect(refused('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n')).toMatchObject({ code: 'SFG_HTTP_BAD_RESPONSE', message: expect.stringContaining('Content-Length') });
    expect(refused('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n')).toMatchObject({ code: 'SFG_HTTP_BAD_RESPONSE' });
    expect(refused('HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n')).toMatchObject({ message: expect.stringContaining('obsolete line folding') });
    expect(refused('HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n')).toMatchObject({ message: expect.stringContaining('header name') });
    expect(refused('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')).toMatchObject({ message: expect.stringContaining('chunk size') });
    expect(refused('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY')).toMatchObject({ message: expect.stringContaining('CRLF') });
  });

  it('refuses a bad status line and a head over 16 KiB', () => {
    expect(parse(['HTTP/2 200 OK\r\n\r\n']).error).toMatchObject({ code: 'SFG_HTTP_BAD_RESPONSE', message: expect.stringContaining('status line') });
    expect(parse(['HTTP/1.1 20x OK\r\n\r\n']).error).toMatchObject({ message: expect.stringContaining('status line') });
    expect(parse([`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(17 * 1024)}`]).error).toMatchObject({ message: expect.stringContaining('head larger than 16384 bytes') });
  });

  it('treats bytes after a complete response as a reason not to reuse the connection', () => {
    const result = parse(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n']);
    expect(result).toMatchObject({ body: 'ok', ended: 1 });
    expect(result.parser.keepAlive).toBe(false);
  });
});
