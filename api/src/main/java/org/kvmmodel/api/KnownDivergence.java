package org.kvmmodel.api;

import java.util.Objects;

/**
 * A check that real KVM is known to fail for an architecture at a kernel version, declared by
 * the plugin that models that behaviour faithfully, in one kernel function. Conformance then
 * reports a violation of the check found in that function as {@code known-divergence} instead
 * of {@code fail}, citing the fix; a violation of the same check anywhere else still fails.
 *
 * @param check the check id, e.g. {@code DIRTY-PROTECTED}
 * @param kernelFunction where the behaviour lives, e.g. {@code kvm_riscv_gstage_map}: the
 *     site checks name for the violation (a core entry point, the arch's
 *     {@code guestFaultFunction} or {@code vmIoctlFunction})
 * @param fix the subject of the commit that fixes it, or {@code null} while mainline has none
 */
public record KnownDivergence(String check, String kernelFunction, String fix) {

  public KnownDivergence {
    Objects.requireNonNull(check, "check");
    Objects.requireNonNull(kernelFunction, "kernelFunction");
  }

  /** Whether it covers a violation of {@code violatedCheck} found at {@code site} (null: none). */
  public boolean covers(String violatedCheck, String site) {
    return check.equals(violatedCheck) && kernelFunction.equals(site);
  }

  /** How a report cites it: the fixing commit's subject, or {@code unfixed} and the function. */
  public String citation() {
    return fix != null
        ? "fixed by \"" + fix + "\" (" + kernelFunction + ")"
        : "unfixed in mainline (" + kernelFunction + ")";
  }
}
