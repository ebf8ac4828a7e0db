package org.kvmmodel.core.sched;

/**
 * How a deterministic scheduler picks the next actor at a race point.
 *
 * <ul>
 *   <li>{@link #RANDOM}: uniformly among the runnable actors.
 *   <li>{@link #PCT}: probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): random
 *       distinct priorities, the highest runnable priority always runs, and at {@code depth - 1}
 *       randomly chosen steps the running actor drops to the lowest priority. It finds bugs of
 *       depth {@code d} with probability at least {@code 1/(n k^(d-1))}.
 * </ul>
 */
public enum SchedulePolicy {
  RANDOM,
  PCT
}
