export {
  type AcquireOptions,
  type AdaptiveAlgorithm,
  AdaptiveConcurrency,
  type AdaptiveConcurrencyOptions,
  type AdaptiveConcurrencyStats,
  type ConcurrencyPermit,
} from './adaptive-concurrency.js';
export { type BackoffOptions, backoffDelay, parseDuration, parseRetryAfter } from './backoff.js';
export { Budget, type BudgetOptions, type Cost, type Reservation, type ReserveOptions } from './budget.js';
export {
  type BudgetBackend,
  MemoryBudgetBackend,
  type TryResult,
  type WindowSpec,
  type WindowUsage,
} from './budget-backend.js';
export {
  type BreakerPermit,
  type BreakerStateStore,
  CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitState,
  RedisBreakerStore,
} from './circuit-breaker.js';
export {
  CircuitOpenError,
  ConcurrencyLimitedError,
  QuotaExhaustedError,
  RateLimitedError,
  ResilienceError,
  ResilienceErrorCode,
} from './errors.js';
export {
  type GradientParams,
  type GradientState,
  type GradientWindow,
  gradientStep,
} from './gradient-step.js';
export { RateLimiter, type RateLimiterOptions } from './rate-limiter.js';
export { RedisBudgetBackend, type RedisBudgetBackendOptions } from './redis-budget-backend.js';
export { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';
