export { Exchange, type ForwardingCore } from './exchange';
export { errorBody, respondWithError } from './error-response';
export { requestIdOf, upgradeHeaders, type UpstreamHeaders } from './headers';
