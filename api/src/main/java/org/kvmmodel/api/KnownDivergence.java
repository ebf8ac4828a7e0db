package org.kvmmodel.api;

import java.util.Objects;

/**
 * A check that real KVM is known to fail for an architecture at a kernel version, declared by
 * the plugin that models that behaviour faithfully: in one kernel function, and only where the
 * violation has the declared {@linkplain ViolationSignature signature}. Conformance then
 * reports such a violation as {@code known-divergence} instead of {@code fail}, citing the fix;
 * a violation of the same check anywhere else, or a different breach in the same function,
 * still fails.
 *
 * @param check the check id, e.g. {@code DIRTY-PROTECTED}
 * @param kernelFunction where the behaviour lives, e.g. {@code kvm_riscv_gstage_map}: the
 *     site checks name for the violation (a core entry point, the arch's
 *     {@code guestFaultFunction} or {@code vmIoctlFunction})
 * @param signature what the violation looks like: its kind and the events that led to it
 * @param fix the subject of the commit that fixes it, or {@code null} while mainline has none
 */
public record KnownDivergence(
    String check, String kernelFunction, ViolationSignature signature, String fix) {

  public KnownDivergence {
    Objects.requireNonNull(check, "check");
    Objects.requireNonNull(kernelFunction, "kernelFunction");
    Objects.requireNonNull(signature, "signature");
  }

  /** Whether it covers the violation {@code evidence} describes. */
  public boolean covers(ViolationEvidence evidence) {
    return check.equals(evidence.check())
        && kernelFunction.equals(evidence.kernelFunction())
        && signature.matches(evidence);
  }

  /**
   * How a report cites it: the fixing commit's subject, or {@code unfixed}, with the function
   * and the signature.
   */
  public String citation() {
    String where = kernelFunction + ": " + signature.description();
    return fix != null
        ? "fixed by \"" + fix + "\" (" + where + ")"
        : "unfixed in mainline (" + where + ")";
  }
}
