import { badResponse, type HttpClientError } from './errors';

/** What a parsed response reports, in order: one head, body chunks (de-chunked), one end. */
export interface ResponseEvents {
  onHead(status: number, headers: string[]): void;
  onBody(chunk: Buffer): void;
  onEnd(): void;
}

/** Longest response head read (status line and headers), as node's own default `maxHeaderSize`. */
export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_CHUNK_LINE = 1024;
const CRLF_CRLF = Buffer.from('\r\n\r\n');
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DIGITS = /^\d{1,15}$/;
const HEX = /^[0-9A-Fa-f]{1,12}$/;

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'until-close' | 'done';

/**
 * An incremental HTTP/1.1 response parser for one connection (RFC 9112): status line and headers, then the body
 * framed by Content-Length, chunked transfer coding or the connection's close. Refuses what a request-smuggling
 * attack needs: both Content-Length and Transfer-Encoding, differing or malformed lengths, obsolete line folding,
 * bad header names, malformed chunk sizes. Informational (1xx) responses are skipped.
 */
export class ResponseParser {
  private state: State = 'done';
  private noBody = false;
  private pending: Buffer | undefined;
  private remaining = 0;
  /** Whether the connection may carry another request once this response ended. */
  keepAlive = false;
  /** Whether any byte of the response arrived. */
  started = false;

  constructor(private readonly events: ResponseEvents) {}

  /** Expects a new response, to a HEAD request when `headRequest` (no body whatever the headers say). */
  reset(headRequest: boolean): void {
    this.state = 'head';
    this.noBody = headRequest;
    this.pending = undefined;
    this.keepAlive = false;
    this.started = false;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** Whether the connection closing now ends the response (a body read until close). */
  get endsOnClose(): boolean {
    return this.state === 'until-close';
  }

  /** Feeds bytes received; returns the framing error that makes the connection unusable, if any. */
  execute(chunk: Buffer): HttpClientError | undefined {
    this.started = true;
    let data = chunk;
    let offset = 0;
    if (this.pending) {
      data = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    while (offset < data.length) {
      switch (this.state) {
        case 'head': {
          const end = data.indexOf(CRLF_CRLF, offset);
          if (end === -1) {
            if (data.length - offset > MAX_HEAD_BYTES) return badResponse(`head larger than ${MAX_HEAD_BYTES} bytes`);
            this.pending = data.subarray(offset);
            return undefined;
          }
          if (end - offset > MAX_HEAD_BYTES) return badResponse(`head larger than ${MAX_HEAD_BYTES} bytes`);
          const error = this.parseHead(data.toString('latin1', offset, end));
          if (error) return error;
          offset = end + 4;
          break;
        }
        case 'length': {
          const take = Math.min(this.remaining, data.length - offset);
          const body = data.subarray(offset, offset + take);
          offset += take;
          this.remaining -= take;
          this.events.onBody(body);
          if (this.remaining === 0) this.end();
          break;
        }
        case 'until-close':
          this.events.onBody(offset === 0 ? data : data.subarray(offset));
          return undefined;
        case 'chunk-size':
        case 'trailers': {
          const lineEnd = data.indexOf(10, offset); // \n
          if (lineEnd === -1) {
            if (data.length - offset > MAX_CHUNK_LINE) return badResponse('chunk size line too long');
            this.pending = data.subarray(offset);
            return undefined;
          }
          if (lineEnd - offset > MAX_CHUNK_LINE || data[lineEnd - 1] !== 13) return badResponse('chunk size line not ended by CRLF');
          const line = data.toString('latin1', offset, lineEnd - 1);
          offset = lineEnd + 1;
          if (this.state === 'trailers') {
            if (line === '') this.end();
            continue;
          }
          const semicolon = line.indexOf(';');
          const size = (semicolon === -1 ? line : line.slice(0, semicolon)).trim();
          if (!HEX.test(size)) return badResponse(`invalid chunk size '${size.slice(0, 20)}'`);
          this.remaining = parseInt(size, 16);
          this.state = this.remaining === 0 ? 'trailers' : 'chunk-data';
          break;
        }
        case 'chunk-data': {
          const take = Math.min(this.remaining, data.length - offset);
          const body = data.subarray(offset, offset + take);
          offset += take;
          this.remaining -= take;
          this.events.onBody(body);
          if (this.remaining === 0) {
            this.state = 'chunk-end';
            this.remaining = 2;
          }
          break;
        }
        case 'chunk-end': {
          if (data[offset] !== (this.remaining === 2 ? 13 : 10)) return badResponse('chunk data not followed by CRLF');
          offset += 1;
          if (--this.remaining === 0) this.state = 'chunk-size';
          break;
        }
        case 'done':
          // Bytes after the response (the upstream pipelined or lied about the length): the connection cannot be reused.
          this.keepAlive = false;
          return undefined;
      }
    }
    return undefined;
  }

  private parseHead(head: string): HttpClientError | undefined {
    const lines = head.split('\r\n');
    const statusLine = lines[0]!;
    if (statusLine.length < 12 || !statusLine.startsWith('HTTP/1.') || (statusLine.length > 12 && statusLine[12] !== ' ')) {
      return badResponse(`status line '${statusLine.slice(0, 40)}'`);
    }
    const minor = statusLine[7];
    const status = Number(statusLine.slice(9, 12));
    if ((minor !== '0' && minor !== '1') || statusLine[8] !== ' ' || !(status >= 100 && status <= 999)) return badResponse(`status line '${statusLine.slice(0, 40)}'`);
    const headers: string[] = [];
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    for (let index = 1; index < lines.length; index++) {
      const line = lines[index]!;
      const colon = line.indexOf(':');
      if (colon <= 0) return badResponse(line[0] === ' ' || line[0] === '\t' ? 'obsolete line folding' : `header line '${line.slice(0, 40)}'`);
      const name = line.slice(0, colon);
      if (!TOKEN.test(name)) return badResponse(`header name '${name.slice(0, 40)}'`);
      const value = line.slice(colon + 1).trim();
      // Only the framing headers are looked at; their names are at most 17 characters.
      if (name.length === 14 && name.toLowerCase() === 'content-length') {
        if (!DIGITS.test(value) || (contentLength !== undefined && contentLength !== value)) return badResponse(`Content-Length '${value.slice(0, 20)}'`);
        contentLength = value;
      } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      } else if (name.length === 10 && name.toLowerCase() === 'connection') {
        connection = connection === undefined ? value : `${connection}, ${value}`;
      }
      headers.push(name, value);
    }
    if (status < 200) {
      // 100 Continue, 103 Early Hints: the final response follows on the same connection.
      this.state = 'head';
      return undefined;
    }
    const tokens = connection?.toLowerCase();
    this.keepAlive = minor === '1' ? !tokens?.includes('close') : tokens?.includes('keep-alive') === true;
    this.events.onHead(status, headers);
    if (this.noBody || status === 204 || status === 304) {
      if (transferEncoding !== undefined && contentLength !== undefined) this.keepAlive = false;
      this.end();
      return undefined;
    }
    if (transferEncoding !== undefined) {
      if (contentLength !== undefined) return badResponse('both Content-Length and Transfer-Encoding');
      if (/(?:^|,)\s*chunked\s*$/i.test(transferEncoding)) this.state = 'chunk-size';
      else {
        this.state = 'until-close';
        this.keepAlive = false;
      }
      return undefined;
    }
    if (contentLength !== undefined) {
      this.remaining = Number(contentLength);
      if (this.remaining === 0) this.end();
      else this.state = 'length';
      return undefined;
    }
    this.state = 'until-close';
    this.keepAlive = false;
    return undefined;
  }

  private end(): void {
    this.state = 'done';
    this.events.onEnd();
  }

  /** The connection closed: ends a body read until close; true when the response is complete. */
  closed(): boolean {
    if (this.state === 'until-close') {
      this.end();
      return true;
    }
    return this.state === 'done';
  }
}
