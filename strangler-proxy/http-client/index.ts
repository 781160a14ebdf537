export type { HttpRequest, ResponseHandler } from './connection';
export { HttpClientError, type HttpClientErrorCode } from './errors';
export { HttpPool, type HttpPoolOptions } from './pool';
