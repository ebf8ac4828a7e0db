package org.kvmmodel.api.pt;

/**
 * Where a range walk resumes after it yielded mmu_lock and restarted from the root
 * ({@code tdp_iter_restart}). Since "KVM: x86/mmu: Don't advance iterator after restart due to
 * yielding" it resumes at the gfn it yielded on, whose entry it had not visited yet; the
 * environment of every plugin's tables uses {@link #AT_YIELDED_ENTRY}. The seam lets a mutant
 * kept beside the suite re-create the kernels before that fix.
 */
@FunctionalInterface
public interface WalkRestart {

  /** Resume at the entry the walk yielded on. */
  WalkRestart AT_YIELDED_ENTRY = (yieldedGfn, rootEntryPages) -> yieldedGfn;

  /**
   * The gfn the walk resumes at, having yielded at {@code yieldedGfn} and restarted at the
   * root, whose entries each map {@code rootEntryPages} pages.
   */
  long resumeGfn(long yieldedGfn, long rootEntryPages);
}
