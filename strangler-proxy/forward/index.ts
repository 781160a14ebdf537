export { Exchange, type ForwardingCore } from './exchange';
export { errorBody, respondWithError } from './error-response';
export { requestIdOf, upstreamHeaders, type UpstreamHeaders } from './headers';
