import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { GatewayContext, Readiness } from './context.ts';

/**
 * Health, readiness and metrics: unauthenticated, for load balancers and Prometheus. /healthz
 * says the process answers; /readyz is 503 while the gateway closes or the extra readiness (the
 * store) says not ready; /metrics is the registry's text, on the main port or a port of its own.
 */
export class HealthRoutes {
  constructor(private readonly ctx: GatewayContext) {}

  register(app: TemplatedApp, withMetrics: boolean): void {
    app.get('/healthz', (res) => {
      this.health(res);
    });
    app.get('/readyz', (res) => {
      this.ready(res);
    });
    if (withMetrics) {
      app.get('/metrics', (res) => {
        this.scrape(res);
      });
    }
  }

  /** Metrics only, for the separate metrics port. */
  registerMetricsOnly(app: TemplatedApp): void {
    app.get('/metrics', (res) => {
      this.scrape(res);
    });
    app.any('/*', (res) => {
      res.writeStatus('404 Not Found').end();
    });
  }

  private health(res: HttpResponse): void {
    res
      .writeStatus('200 OK')
      .writeHeader('content-type', 'application/json')
      .end('{"status":"ok"}');
  }

  private ready(res: HttpResponse): void {
    let extra: Readiness = { ready: true, detail: {} };
    try {
      if (this.ctx.readiness !== null) extra = this.ctx.readiness();
    } catch (error) {
      this.ctx.log.error({ err: error }, 'readiness check failed');
      extra = { ready: false, detail: { error: 'readiness check failed' } };
    }
    const closing = this.ctx.state.closing;
    const ready = !closing && extra.ready;
    res
      .writeStatus(ready ? '200 OK' : '503 Service Unavailable')
      .writeHeader('content-type', 'application/json')
      .end(JSON.stringify({ ready, closing, detail: extra.detail }));
  }

  private scrape(res: HttpResponse): void {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const { registry } = this.ctx.metrics;
    const log = this.ctx.log;
    (this.ctx.scrape ?? (() => registry.metrics()))()
      .then((body) => {
        if (aborted) return;
        res.cork(() => {
          res.writeStatus('200 OK').writeHeader('content-type', registry.contentType).end(body);
        });
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'metrics scrape failed');
        if (aborted) return;
        res.cork(() => {
          res.writeStatus('500 Internal Server Error').end();
        });
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'answering a failed scrape failed');
      });
  }
}
