// How long the workflow waits before looking at a pending cluster again (WaitForCluster).
import { clusterWaitSeconds, EXPECTED_CREATING_SECONDS } from '../../lambdas/domain/cluster';

const NOW = Date.parse('2026-12-02T03:00:00Z');
const createdSecondsAgo = (seconds: number) => new Date(NOW - seconds * 1000);

test('a just-created cluster is first looked at when it is about 8 minutes old', () => {
  expect(EXPECTED_CREATING_SECONDS).toBe(480);
  expect(clusterWaitSeconds('CREATING', createdSecondsAgo(5), NOW, 30, 2700)).toBe(475);
});

test('a cluster past that age, or not CREATING, or of unknown age, is looked at every poll interval', () => {
  expect(clusterWaitSeconds('CREATING', createdSecondsAgo(470), NOW, 30, 2700)).toBe(30);
  expect(clusterWaitSeconds('CREATING', createdSecondsAgo(900), NOW, 30, 2700)).toBe(30);
  expect(clusterWaitSeconds('UPDATING', createdSecondsAgo(5), NOW, 30, 2700)).toBe(30);
  expect(clusterWaitSeconds('CREATING', undefined, NOW, 30, 2700)).toBe(30);
});

test('never waits past the wait limit (so the limit is reported on time), and at least 1 s', () => {
  expect(clusterWaitSeconds('CREATING', createdSecondsAgo(5), NOW, 30, 100)).toBe(100);
  expect(clusterWaitSeconds('UPDATING', createdSecondsAgo(5), NOW, 30, 12)).toBe(12);
  expect(clusterWaitSeconds('UPDATING', createdSecondsAgo(5), NOW, 30, 0)).toBe(1);
});
