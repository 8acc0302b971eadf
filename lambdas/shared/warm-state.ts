// What a warm Lambda keeps between invocations is bound to the environment it was made in: SDK
// clients to their endpoints, member credentials and controller sessions to their accounts and
// controller, leases to their table. A Lambda's environment never changes, so production never
// forgets any of it. Each module that keeps such state registers how to forget it; the local
// world (tests) forgets it all when it starts or stops a world, so that one jest module registry
// can run several worlds in turn (docs/test-speed.md, round 5).
const forgets: (() => void)[] = [];

/** Called once by a module at load: how to drop what it keeps while warm. */
export function keptWhileWarm(forget: () => void): void {
  forgets.push(forget);
}

/** Test seam: every registered module forgets what it keeps, as after a cold start. */
export function forgetWarmStateForTests(): void {
  for (const forget of forgets) forget();
}
