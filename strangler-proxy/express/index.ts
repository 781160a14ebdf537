export { StranglerMiddleware, type StranglerMiddlewareOptions, type StranglerMiddlewareDeps, type Middleware, type NextFunction } from './middleware';
