// EventBridge pattern matching for the subset our rules use (moto's TestEventPattern answers
// nothing): literal value lists, {"exists": false|true}, {"prefix": "..."}, nested objects.
import { App, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';

type Pattern = Record<string, unknown>;

function matchesValue(condition: unknown, value: unknown, present: boolean): boolean {
  if (condition !== null && typeof condition === 'object') {
    const c = condition as { exists?: boolean; prefix?: string };
    if (c.exists !== undefined) return c.exists === present;
    if (c.prefix !== undefined) return typeof value === 'string' && value.startsWith(c.prefix);
    throw new Error(`event-pattern: unsupported condition ${JSON.stringify(condition)}`);
  }
  return present && (Array.isArray(value) ? value.includes(condition) : value === condition);
}

export function matchesPattern(pattern: Pattern, event: unknown): boolean {
  const subject = (event ?? {}) as Record<string, unknown>;
  return Object.entries(pattern).every(([key, rule]) => {
    const present = subject !== null && typeof subject === 'object' && key in subject;
    const value = present ? subject[key] : undefined;
    if (Array.isArray(rule)) return rule.some((condition) => matchesValue(condition, value, present));
    if (rule !== null && typeof rule === 'object') return present && matchesPattern(rule as Pattern, value);
    throw new Error(`event-pattern: a pattern's leaves must be lists, got ${JSON.stringify(rule)} at ${key}`);
  });
}

/** The JSON pattern CDK renders for an EventPattern, as EventBridge receives it. */
export function renderPattern(pattern: events.EventPattern): Pattern {
  const stack = new Stack(new App(), 'PatternOnly');
  const rule = new events.Rule(stack, 'Rule', { eventPattern: pattern });
  return stack.resolve((rule.node.defaultChild as events.CfnRule).eventPattern) as Pattern;
}
