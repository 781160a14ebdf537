export { CaseStudyStack, SERVICES, SHOP_ROUTES, type ShopRouteId, type StackNode } from './stack';
export { parseStackOptions, type StackOptions, type StackOptionsInput } from './options';
export { DEMO_USER } from './seed';
