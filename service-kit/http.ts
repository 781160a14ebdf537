import express, { type ErrorRequestHandler, type Express, type Request } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { CaseStudyError, PeerAnswerError, ValidationError } from './errors';
import { WRITTEN_HEADER } from '../outbox';
import type { WriteContext } from './events';
import type { PeerCall } from './peer';

/** The JSON error body, identical on the monolith and on every service. */
export interface ErrorBody {
  error: { code: string; message: string; fields?: { field: string; message: string }[] };
}

export function errorBody(error: CaseStudyError): ErrorBody {
  const body: ErrorBody = { error: { code: error.code, message: error.message } };
  if (error instanceof ValidationError || (error instanceof PeerAnswerError && error.fields)) body.error.fields = error.fields;
  return body;
}

function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const known = error instanceof CaseStudyError ? error : fromBodyParser(error);
    if (known) {
      res.status(known.status).json(errorBody(known));
      return;
    }
    logger.error({ err: error, method: req.method, path: req.path }, 'unhandled error');
    res.status(500).json({ error: { code: 'SFG_CASE_INTERNAL', message: 'internal error' } } satisfies ErrorBody);
  };
}

/** express.json() rejects malformed JSON with a 400 `entity.parse.failed` error: report it in our format. */
function fromBodyParser(error: unknown): CaseStudyError | undefined {
  const typed = error as { type?: string; status?: number };
  if (typed?.type === 'entity.parse.failed') return new ValidationError([{ field: '(body)', message: 'malformed JSON' }]);
  if (typed?.type === 'entity.too.large') return new ValidationError([{ field: '(body)', message: 'body too large' }]);
  return undefined;
}

/** Reads the W3C `traceparent` header so domain events carry it. */
export function traceparentOf(req: Request): string | undefined {
  const value = req.headers.traceparent;
  return typeof value === 'string' ? value : undefined;
}

/**
 * Adds entries to the response's `strangler-written` header: the events a write appended, here or at a peer it
 * called, which the proxy's read-your-writes waits for on the other side. A rolled-back write lists events that
 * never commit; the proxy only takes the header from a successful answer.
 */
export function writtenRecorderOf(req: Request): (entries: string[]) => void {
  return (entries) => {
    const res = req.res;
    if (!res || res.headersSent || entries.length === 0) return;
    const existing = res.getHeader(WRITTEN_HEADER);
    res.setHeader(WRITTEN_HEADER, existing ? `${String(existing)},${entries.join(',')}` : entries.join(','));
  };
}

/** What a call to a peer passes on from the request being served: its bearer token, its trace, and where to list what the peer wrote. */
export function peerCallOf(req: Request): Pick<PeerCall, 'authorization' | 'traceparent' | 'recordWritten'> {
  return { authorization: req.headers.authorization, traceparent: traceparentOf(req), recordWritten: writtenRecorderOf(req) };
}

/** The write context of a request: this process's origin, the request's trace, and where to list what it wrote. */
export function writeContextOf(origin: string, req: Request): WriteContext {
  return { origin, traceparent: traceparentOf(req), recordWritten: writtenRecorderOf(req) };
}

/**
 * An Express app with what every case-study process has: JSON bodies, GET /healthz, GET /metrics from the
 * registry passed in, the routers from `mount`, a JSON 404 for unknown paths and the shared error format.
 */
export function createApiApp(deps: { logger: Logger; registry: Registry; mount: (app: Express) => void }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ limit: '100kb' }));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  deps.mount(app);
  app.use((req, res) => {
    res.status(404).json({ error: { code: 'SFG_CASE_NOT_FOUND', message: `no route for ${req.method} ${req.path}` } } satisfies ErrorBody);
  });
  app.use(errorHandler(deps.logger));
  return app;
}
