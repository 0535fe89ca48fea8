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
