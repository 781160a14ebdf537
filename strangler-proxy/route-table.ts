import type http from 'node:http';
import type { ClusterRuntime } from './cluster';
import { IdentityReader } from './context';
import { compileCompareRules, type CompareRules } from './diff';
import type { FlagProvider } from './flags/provider';
import { RouteTargetMetrics, type ProxyGaugeSources, type ProxyMetrics, type Target } from './metrics';
import { LEGACY, lowerKeys, type ProxyConfig, type RouteConfig, type ShadowConfig } from './options';
import type { PathPolicy } from './path';
import { RouteIndex } from './route-index';
import { parsePathTemplate, type TemplateSegment } from './template';

export const UNMATCHED = 'unmatched';

/** Requests per side since the proxy started; survives reloads. */
export interface TrafficSplit {
  legacy: number;
  extracted: number;
}

export interface CompiledRoute {
  id: string;
  config: RouteConfig | undefined;
  /** Position in match order (`order`, then file order). */
  rank: number;
  segments: readonly TemplateSegment[];
  methods: ReadonlySet<string> | undefined;
  headers: Array<[string, string]>;
  /** The cluster that answers when the route is switched on (legacy for the unmatched route). */
  cluster: ClusterRuntime;
  flag: string | undefined;
  useUserId: boolean;
  fallbackOnSafe: boolean;
  maxBodyBytes: number;
  shadow: (ShadowConfig & { rules: CompareRules }) | undefined;
  metrics: Record<Target, RouteTargetMetrics>;
  split: TrafficSplit;
}

export interface RouteRuntimeState {
  metricsFor(route: string): Record<Target, RouteTargetMetrics>;
  splitFor(route: string): TrafficSplit;
}

/** Per-route metrics and traffic counters, created on first use; they outlive a table, so a reload keeps them. */
export class RouteCounters implements RouteRuntimeState {
  readonly splits = new Map<string, TrafficSplit>();
  private readonly metrics = new Map<string, Record<Target, RouteTargetMetrics>>();

  constructor(private readonly proxyMetrics: () => ProxyMetrics) {}

  metricsFor(route: string): Record<Target, RouteTargetMetrics> {
    let metrics = this.metrics.get(route);
    if (!metrics) {
      const proxyMetrics = this.proxyMetrics();
      metrics = { legacy: new RouteTargetMetrics(proxyMetrics, route, 'legacy'), extracted: new RouteTargetMetrics(proxyMetrics, route, 'extracted') };
      this.metrics.set(route, metrics);
    }
    return metrics;
  }

  splitFor(route: string): TrafficSplit {
    let split = this.splits.get(route);
    if (!split) {
      split = { legacy: 0, extracted: 0 };
      this.splits.set(route, split);
    }
    return split;
  }
}

/** What the scrape-time gauges read: flag readiness, each extracted cluster's breaker, each route's rollout. */
export function gaugeSources(flags: FlagProvider, clusters: () => Iterable<ClusterRuntime>, table: () => RouteTable): ProxyGaugeSources {
  return {
    flagsReady: () => flags.isReady(),
    circuitStates: () => [...clusters()].filter((cluster) => cluster.name !== LEGACY).map((cluster) => ({ cluster: cluster.name, state: cluster.breaker.current() })),
    endpoints: () => {
      const now = performance.now();
      return [...clusters()].flatMap((cluster) =>
        cluster.endpoints.map((endpoint) => ({ cluster: cluster.name, endpoint: endpoint.url, up: endpoint.healthy !== false && !endpoint.ejected(now), outstanding: endpoint.outstanding })),
      );
    },
    routeRollouts: () =>
      table().routes.map((route) => ({
        route: route.id,
        percent: route.flag === undefined ? (route.cluster.name === LEGACY ? 0 : 100) : (flags.rolloutPercent?.(route.flag) ?? 0),
      })),
  };
}

/** The precompiled, immutable table for one configuration; a reload builds a new one and swaps the reference. */
export class RouteTable {
  readonly routes: CompiledRoute[];
  readonly unmatched: CompiledRoute;
  readonly pathPolicy: PathPolicy;
  readonly identity: IdentityReader;
  private readonly index: RouteIndex<CompiledRoute>;
  /** Keep the client's X-Forwarded-Host/-Proto (`context.trustForwardedHeaders`). */
  readonly trustForwardedHeaders: boolean;

  constructor(
    readonly config: ProxyConfig,
    clusters: ReadonlyMap<string, ClusterRuntime>,
    state: RouteRuntimeState,
  ) {
    this.pathPolicy = config.paths;
    this.identity = new IdentityReader(config.context);
    this.trustForwardedHeaders = config.context.trustForwardedHeaders;
    const legacy = clusters.get(LEGACY)!;
    this.routes = [...config.routes]
      .sort((a, b) => a.order - b.order)
      .map((route, rank) => ({
        id: route.id,
        config: route,
        rank,
        segments: parsePathTemplate(route.match.path).segments,
        methods: route.match.methods ? new Set<string>(route.match.methods) : undefined,
        headers: Object.entries(lowerKeys(route.match.headers ?? {})),
        cluster: clusters.get(route.cluster)!,
        flag: route.flag,
        useUserId: route.stickiness === 'user',
        fallbackOnSafe: route.fallback === 'safe-methods',
        maxBodyBytes: route.maxBodyBytes,
        shadow: route.shadow ? { ...route.shadow, rules: compileCompareRules(route.shadow) } : undefined,
        metrics: state.metricsFor(route.id),
        split: state.splitFor(route.id),
      }));
    this.unmatched = {
      id: UNMATCHED,
      config: undefined,
      rank: Number.POSITIVE_INFINITY,
      segments: [{ kind: 'catchAll' }],
      methods: undefined,
      headers: [],
      cluster: legacy,
      flag: undefined,
      useUserId: true,
      fallbackOnSafe: false,
      maxBodyBytes: Number.POSITIVE_INFINITY,
      shadow: undefined,
      metrics: state.metricsFor(UNMATCHED),
      split: state.splitFor(UNMATCHED),
    };
    this.index = new RouteIndex(this.routes);
  }

  /** The first route in match order for a normalised path, or the unmatched route (legacy). */
  match(method: string, path: string, headers: http.IncomingHttpHeaders): CompiledRoute {
    return this.index.find(method, path, headers) ?? this.unmatched;
  }
}
