// A real HTTP webhook receiver for tests. It verifies every request's Standard Webhooks signature (bad ones
// are recorded and answered 401), records deliveries by webhook-id, can answer a chosen status for the next N
// requests (or until told otherwise), can hold requests open (to measure in-flight concurrency), and can stop
// and start again on the SAME port, to play an endpoint that is down for a while.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook, type VerifyWebhookResult } from '../standard-webhooks.js';

export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** The status this request was answered with. */
  status: number;
  receivedAt: number;
}

export interface BadSignature {
  id: string | undefined;
  reason: Exclude<VerifyWebhookResult, { ok: true }>['reason'];
  body: string;
}

export interface WebhookReceiverOptions {
  secret: string;
  /** Listen here (default: a free port chosen by the OS). */
  port?: number;
  /** Default 300 s. */
  toleranceSeconds?: number;
  /** Status for a request with a good signature when no override applies. Default 204. */
  defaultStatus?: number;
}

interface StatusOverride {
  status: number;
  /** Requests left; undefined = until clearStatus(). */
  remaining: number | undefined;
  retryAfter: string | undefined;
}

export class WebhookReceiver {
  /** Every request with a valid signature, in arrival order, whatever it was answered. */
  readonly requests: ReceivedWebhook[] = [];
  readonly badSignatures: BadSignature[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private server: Server | undefined;
  private port_: number;
  private override: StatusOverride | undefined;
  private held: (() => void)[] = [];
  private holding = false;

  private constructor(private readonly opts: WebhookReceiverOptions) {
    this.port_ = opts.port ?? 0;
  }

  static async start(opts: WebhookReceiverOptions): Promise<WebhookReceiver> {
    const r = new WebhookReceiver(opts);
    await r.listen();
    return r;
  }

  get port(): number {
    return this.port_;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port_}/hooks/tidemark`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** Requests answered 2xx (delivered), in arrival order. */
  get delivered(): ReceivedWebhook[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300);
  }

  /** How many times `id` was delivered (answered 2xx). */
  deliveredCount(id: string): number {
    return this.delivered.filter((r) => r.id === id).length;
  }

  /** Distinct delivered ids in first-delivery order: what a receiver that dedups by id keeps. */
  deliveredIds(): string[] {
    return [...new Set(this.delivered.map((r) => r.id))];
  }

  /** The parsed body of the first delivery of `id`. */
  body(id: string): Record<string, unknown> | undefined {
    const r = this.delivered.find((d) => d.id === id);
    return r ? (JSON.parse(r.body) as Record<string, unknown>) : undefined;
  }

  /** Answer `status` to the next `times` requests (all of them until clearStatus() when `times` is omitted). */
  respondWith(status: number, opts: { times?: number; retryAfter?: string } = {}): void {
    this.override = { status, remaining: opts.times, retryAfter: opts.retryAfter };
  }

  clearStatus(): void {
    this.override = undefined;
  }

  /** Keep requests open (counted in inFlight) until release(). */
  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    const waiting = this.held;
    this.held = [];
    for (const go of waiting) go();
  }

  /** Stops listening and drops open connections; the port is kept for restart(). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.release();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** Listens again on the same port. */
  async restart(): Promise<void> {
    if (this.server) return;
    await this.listen();
  }

  close(): Promise<void> {
    return this.stop();
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port_, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port_ = (server.address() as AddressInfo).port;
    this.server = server;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      const header = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const id = header('webhook-id');
      const check = verifyWebhook({
        secret: this.opts.secret,
        id,
        timestamp: header('webhook-timestamp'),
        signature: header('webhook-signature'),
        body,
        ...(this.opts.toleranceSeconds === undefined ? {} : { toleranceSeconds: this.opts.toleranceSeconds }),
      });
      if (!check.ok) {
        this.badSignatures.push({ id, reason: check.reason, body });
        res.writeHead(401).end();
        return;
      }
      if (this.holding) await new Promise<void>((resolve) => this.held.push(resolve));
      // Dropped by stop() while held: the sender saw a reset, not an answer.
      if (req.socket.destroyed) return;
      let status = this.opts.defaultStatus ?? 204;
      const headers: Record<string, string> = {};
      const o = this.override;
      if (o) {
        status = o.status;
        if (o.retryAfter !== undefined) headers['retry-after'] = o.retryAfter;
        if (o.remaining !== undefined && --o.remaining <= 0) this.override = undefined;
      }
      this.requests.push({ id: id!, timestamp: header('webhook-timestamp')!, signature: header('webhook-signature')!, body, status, receivedAt: Date.now() });
      res.writeHead(status, headers).end();
    } catch {
      if (!res.headersSent) res.writeHead(500).end();
    } finally {
      this.inFlight -= 1;
    }
  }
}
