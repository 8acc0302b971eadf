// aws-local-stepfunctions 3 calls Promise.withResolvers, which Node 20 lacks (Node 22 has it).
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

// Node's own errors (socket resets, DNS failures) are made in the outer realm; jest runs each test
// file in a sandbox with its own Error, so `instanceof Error` is false for them and the AWS SDK
// replaces them with a bare "AWS SDK error wrapper" that has lost the error code. A Lambda has one
// realm: let the sandbox's Error (and only Error itself, not its subclasses) recognize them.
const sameRealm = Function.prototype[Symbol.hasInstance];
Object.defineProperty(Error, Symbol.hasInstance, {
  configurable: true,
  value: function hasInstance(this: unknown, value: unknown): boolean {
    if (sameRealm.call(this, value)) return true;
    return this === Error && typeof value === 'object' && value !== null && Object.prototype.toString.call(value) === '[object Error]';
  },
});
