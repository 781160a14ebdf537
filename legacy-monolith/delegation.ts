import type { Request, RequestHandler } from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';
import { randomUUID } from 'node:crypto';
import { IDEMPOTENCY_KEY_HEADER, peerCallOf, PeerClient, PeerUnavailableError, type PeerResponse } from '../service-kit';
import { TABLES, type AggregateType } from './data/tables';
import type { ReplicaWaiter } from './replica-waiter';

/** Another aggregate a delegated write creates, named by a field of the owner's answer (an order's `paymentId`). */
export interface AlsoCreated {
  aggregateType: AggregateType;
  idField: string;
}

export interface DelegationOptions {
  /** Aggregate type -> base URL of the service that owns its writes. An aggregate not named is written here. */
  owners: Partial<Record<AggregateType, string>>;
  /** How long a delegated write waits for the owner's event to reach this database before answering anyway. */
  replicaWaitMs: number;
  /** How long a call to an owner may take. */
  ownerTimeoutMs: number;
  /** How often a write is sent (with one idempotency key) to an owner that does not answer in time. */
  ownerAttempts: number;
}

function metrics(registry: Registry) {
  return {
    writes: new Counter({
      name: 'strangler_case_delegated_writes_total',
      help: 'Writes the monolith sent to the service that owns the aggregate, by answer class (2xx, 4xx, unavailable).',
      labelNames: ['aggregatetype', 'outcome'],
      registers: [registry],
    }),
    replicaWait: new Histogram({
      name: 'strangler_case_replica_wait_seconds',
      help: "Time from the owner's answer to the write being readable in the monolith's own database.",
      labelNames: ['aggregatetype'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'strangler_case_delegated_write_retries_total',
      help: 'Delegated writes sent again, with the same idempotency key, after the owner did not answer in time.',
      labelNames: ['aggregatetype'],
      registers: [registry],
    }),
    replicaTimeouts: new Counter({
      name: 'strangler_case_replica_wait_timeouts_total',
      help: 'Delegated writes answered before their replica arrived (after replicaWaitMs).',
      labelNames: ['aggregatetype'],
      registers: [registry],
    }),
  };
}

/**
 * Writes of an aggregate whose data an extracted service now owns are not made here: the monolith sends the
 * request, as the client made it (token and trace included), to the owner's API and answers with the owner's
 * answer. One writer per aggregate means no two versions of one row are ever written on two sides, so sync never
 * has a conflict to resolve and no accepted write is discarded. Before answering, the write waits (bounded by
 * `replicaWaitMs`) until the owner's event has reached this database, so the client's next read here sees it.
 */
export class OwnerDelegation {
  private readonly peers = new Map<AggregateType, PeerClient>();
  private readonly metrics;

  constructor(
    private readonly options: DelegationOptions,
    private readonly replicas: ReplicaWaiter,
    registry: Registry,
  ) {
    for (const [aggregateType, url] of Object.entries(options.owners) as [AggregateType, string][]) {
      this.peers.set(aggregateType, new PeerClient(`the owner of ${aggregateType}s`, url, options.ownerTimeoutMs));
    }
    this.metrics = metrics(registry);
  }

  /** The handler of a write route: sends it to the owner, or `local` when this monolith owns the aggregate. */
  write(aggregateType: AggregateType, local: RequestHandler, also: AlsoCreated[] = []): RequestHandler {
    const peer = this.peers.get(aggregateType);
    if (!peer) return local;
    return async (req, res) => {
      let answer;
      try {
        answer = await this.send(peer, aggregateType, req);
      } catch (error) {
        this.metrics.writes.inc({ aggregatetype: aggregateType, outcome: 'unavailable' });
        throw error;
      }
      this.metrics.writes.inc({ aggregatetype: aggregateType, outcome: `${Math.floor(answer.status / 100)}xx` });
      if (answer.status < 300 && answer.body) {
        await this.awaitReplica(aggregateType, answer.body.id, Number(answer.body.version));
        for (const other of also) await this.awaitReplica(other.aggregateType, answer.body[other.idField], 1);
      }
      res.status(answer.status).json(answer.body);
    };
  }

  /**
   * Sends the write with an idempotency key (the client's own, or a new one), so an owner that did not answer in
   * time is asked again with the same key: a write it made anyway is answered as made, not made twice, and never
   * reported as failed while it happened.
   */
  private async send(peer: PeerClient, aggregateType: AggregateType, req: Request): Promise<PeerResponse<Record<string, unknown>>> {
    const clientKey = req.headers[IDEMPOTENCY_KEY_HEADER];
    const call = { ...peerCallOf(req), body: bodyOf(req), idempotencyKey: typeof clientKey === 'string' ? clientKey : randomUUID() };
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await peer.request<Record<string, unknown>>(req.method, req.originalUrl, call);
      } catch (error) {
        if (!(error instanceof PeerUnavailableError) || attempt >= this.options.ownerAttempts) throw error;
        this.metrics.retries.inc({ aggregatetype: aggregateType });
      }
    }
  }

  private async awaitReplica(aggregateType: AggregateType, id: unknown, version: number): Promise<void> {
    if (typeof id !== 'string' || !Number.isInteger(version)) return;
    const started = performance.now();
    if (await this.replicas.waitFor(TABLES[aggregateType].table, id, version, this.options.replicaWaitMs)) {
      this.metrics.replicaWait.observe({ aggregatetype: aggregateType }, (performance.now() - started) / 1000);
    } else {
      this.metrics.replicaTimeouts.inc({ aggregatetype: aggregateType });
    }
  }
}

function bodyOf(req: Request): unknown {
  return req.is('application/json') ? req.body : undefined;
}
