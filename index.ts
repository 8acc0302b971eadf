// The package root: the construct other CDK apps embed, its props and config types, and the
// config validator that turns an app's context into those props.
export { EksAviatrixOnboarding } from './lib/eks-aviatrix-onboarding';
export type { EksAviatrixOnboardingProps, LogLevel } from './lib/eks-aviatrix-onboarding';
export { ConfigError, DEFAULTS, parseConfig } from './lib/config';
export type { AviatrixConfig, ChatbotConfig, KubernetesSmartGroupSpec, OnboardingConfig, OperationsConfig, OptInRule } from './lib/config';
export { DEFAULT_NAME_PREFIX, resourceNames } from './lib/names';
export type { ResourceNames } from './lib/names';
export { placeholderProblems } from './lib/placeholders';
