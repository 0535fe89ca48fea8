// The child side of the benchmarks' parent/child IPC, apart from the parent side
// (gateway-processes.ts), so children and their parent do not import each other.

/** A child's last message to its parent, resolved once it is written (then the child may exit). */
export function sendToParent(message: object): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => {
      resolve();
    });
  });
}

/**
 * Runs a forked generator the way durable-suite.ts runChild drives it: the job comes as the first
 * message; `run` calls `ready()` once connected (it resolves at `go`), and its result goes back as
 * `{type: 'result', result}`, then the process exits.
 */
export function serveGenerator(
  // `never`: any job type; the parent sends the job the generator expects.
  run: (job: never, ready: () => Promise<void>) => Promise<object>,
): void {
  const ready = (): Promise<void> =>
    new Promise((resolve) => {
      process.once('message', () => {
        resolve();
      });
      process.send?.({ type: 'ready' });
    });
  process.once('message', (job: unknown) => {
    run(job as never, ready)
      .then((result) => sendToParent({ type: 'result', result }))
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
  });
}
