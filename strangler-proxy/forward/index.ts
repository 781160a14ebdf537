export { Exchange, type ForwardingCore } from './exchange';
export { errorBody, respondWithError } from './error-response';
export { headerObject, requestIdOf, upgradeHeaders, type UpstreamHeaders } from './headers';
export { POOL_TRANSPORT, type UpstreamRequest, type UpstreamTransport } from './transport';
export type { UpstreamAttempt } from './upstream-attempt';
