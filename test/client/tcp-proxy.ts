import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of a server, for cutting connections under a client: `cut()`
 * destroys every proxied connection at once (the client sees an abnormal close), `down()` refuses
 * new ones until `up()`, `hold()` stops passing the server's bytes on (replies are withheld, so
 * requests time out) until `release()`, and `retarget()` points it at a restarted server.
 */
export class TcpProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private refusing = false;
  private holding = false;
  private accepted = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private target: number,
  ) {}

  static async start(target: number): Promise<TcpProxy> {
    let proxy: TcpProxy | null = null;
    const server = createServer((client) => {
      proxy?.accept(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    proxy = new TcpProxy(server, port, target);
    return proxy;
  }

  /** Connections accepted and passed on so far. */
  get connections(): number {
    return this.accepted;
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    this.accepted++;
    const upstream = connect(this.target, '127.0.0.1');
    const pair = { client, upstream };
    this.pairs.add(pair);
    const end = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
    if (this.holding) upstream.unpipe(client);
  }

  cut(): void {
    for (const { client, upstream } of [...this.pairs]) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  down(): void {
    this.refusing = true;
    this.cut();
  }

  up(): void {
    this.refusing = false;
  }

  hold(): void {
    this.holding = true;
    for (const { client, upstream } of this.pairs) upstream.unpipe(client);
  }

  release(): void {
    this.holding = false;
    for (const { client, upstream } of this.pairs) upstream.pipe(client);
  }

  retarget(port: number): void {
    this.target = port;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }
}
