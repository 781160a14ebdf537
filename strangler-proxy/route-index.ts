import type http from 'node:http';
import type { TemplateSegment } from './template';

/** What the index needs of a route: its place in match order, its template, and the method and header conditions. */
export interface IndexedRoute {
  /** Position in match order: the lowest rank that matches wins. */
  rank: number;
  segments: readonly TemplateSegment[];
  methods: ReadonlySet<string> | undefined;
  headers: ReadonlyArray<readonly [string, string]>;
}

interface SegmentNode<R extends IndexedRoute> {
  literals: Map<string, SegmentNode<R>> | undefined;
  param: SegmentNode<R> | undefined;
  /** `{name}.ext` branches by suffix. */
  suffixed: Map<string, SegmentNode<R>> | undefined;
  /** Routes whose template ends at this node. */
  ending: RouteBucket<R>;
  /** Routes whose template ends with `{**rest}` after this node's segments. */
  catchAll: RouteBucket<R>;
  /** The lowest rank held here or below: a subtree that cannot beat the best match so far is skipped. */
  minRank: number;
}

function newNode<R extends IndexedRoute>(): SegmentNode<R> {
  return { literals: undefined, param: undefined, suffixed: undefined, ending: new RouteBucket(), catchAll: new RouteBucket(), minRank: Number.POSITIVE_INFINITY };
}

function accepts(route: IndexedRoute, method: string, headers: http.IncomingHttpHeaders): boolean {
  if (route.methods && !route.methods.has(method)) return false;
  const wanted = route.headers;
  for (let index = 0; index < wanted.length; index++) if (headers[wanted[index]![0]] !== wanted[index]![1]) return false;
  return true;
}

/**
 * Route lookup by path segment (a tree of literal segments with one `{param}` branch and `{param}.ext` branches per node), so its cost follows
 * the depth of the path and the few templates that fit it, not the size of the table. The answer is the one a scan
 * in match order gives: every route whose template fits is a candidate, and the lowest-ranked one whose methods and
 * headers also match wins.
 */
export class RouteIndex<R extends IndexedRoute> {
  private readonly root = newNode<R>();
  private readonly byRank: R[] = [];

  constructor(routes: readonly R[]) {
    for (const route of [...routes].sort((a, b) => a.rank - b.rank)) this.add(route);
  }

  private add(route: R): void {
    this.byRank[route.rank] = route;
    let node = this.root;
    node.minRank = Math.min(node.minRank, route.rank);
    for (const segment of route.segments) {
      if (segment.kind === 'catchAll') {
        node.catchAll.push(route);
        return;
      }
      let next: SegmentNode<R> | undefined;
      if (segment.kind === 'param' && segment.suffix) {
        node.suffixed ??= new Map();
        next = node.suffixed.get(segment.suffix);
        if (!next) node.suffixed.set(segment.suffix, (next = newNode()));
      } else if (segment.kind === 'param') {
        next = node.param ??= newNode();
      } else {
        node.literals ??= new Map();
        next = node.literals.get(segment.value);
        if (!next) node.literals.set(segment.value, (next = newNode()));
      }
      node = next;
      node.minRank = Math.min(node.minRank, route.rank);
    }
    node.ending.push(route);
  }

  /** The first route in match order for a normalised, decoded path, or undefined. */
  find(method: string, path: string, headers: http.IncomingHttpHeaders): R | undefined {
    // '/' has no segments; '/a/' has 'a' and '' (a trailing slash is significant, as in the templates).
    const segments = path.length === 1 ? [] : path.slice(1).split('/');
    const best = this.search(this.root, segments, 0, method, headers, Number.POSITIVE_INFINITY);
    return best === Number.POSITIVE_INFINITY ? undefined : this.byRank[best];
  }

  private search(node: SegmentNode<R>, segments: string[], depth: number, method: string, headers: http.IncomingHttpHeaders, best: number): number {
    if (node.minRank >= best) return best;
    best = node.catchAll.first(method, headers, best);
    if (depth === segments.length) return node.ending.first(method, headers, best);
    const segment = segments[depth]!;
    const literal = node.literals?.get(segment);
    if (literal) best = this.search(literal, segments, depth + 1, method, headers, best);
    if (node.param && segment.length > 0) best = this.search(node.param, segments, depth + 1, method, headers, best);
    if (node.suffixed) {
      for (const [suffix, next] of node.suffixed) {
        if (segment.length > suffix.length && segment.endsWith(suffix)) best = this.search(next, segments, depth + 1, method, headers, best);
      }
    }
    return best;
  }
}

/**
 * The routes that end at one place in the tree, in rank order. Those with header conditions are keyed by their first
 * header's name and value as well, so routes that differ only in a header value (one per tenant, say) cost one map
 * lookup instead of one check each.
 */
class RouteBucket<R extends IndexedRoute> {
  private readonly unkeyed: R[] = [];
  private byHeader: Map<string, Map<string, R[]>> | undefined;

  /** Routes must arrive in rank order. */
  push(route: R): void {
    const first = route.headers[0];
    if (!first) {
      this.unkeyed.push(route);
      return;
    }
    this.byHeader ??= new Map();
    let byValue = this.byHeader.get(first[0]);
    if (!byValue) this.byHeader.set(first[0], (byValue = new Map()));
    const routes = byValue.get(first[1]);
    if (routes) routes.push(route);
    else byValue.set(first[1], [route]);
  }

  /** The lowest rank below `best` among the routes that accept the request, else `best`. */
  first(method: string, headers: http.IncomingHttpHeaders, best: number): number {
    if (this.unkeyed.length) best = firstAccepted(this.unkeyed, method, headers, best);
    if (this.byHeader) {
      for (const [name, byValue] of this.byHeader) {
        const value = headers[name];
        const routes = typeof value === 'string' ? byValue.get(value) : undefined;
        if (routes) best = firstAccepted(routes, method, headers, best);
      }
    }
    return best;
  }
}

function firstAccepted(routes: readonly IndexedRoute[], method: string, headers: http.IncomingHttpHeaders, best: number): number {
  for (let index = 0; index < routes.length; index++) {
    const route = routes[index]!;
    if (route.rank >= best) break;
    if (accepts(route, method, headers)) return route.rank;
  }
  return best;
}
