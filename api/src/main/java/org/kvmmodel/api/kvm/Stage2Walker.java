package org.kvmmodel.api.kvm;

/**
 * The MMU hardware of one VM walking its stage-2 table for a vCPU's access: it takes no lock,
 * reads entries as they are, sets accessed and dirty bits where the hardware does (EPT with
 * A/D bits, arm64 with FEAT_HAFDBS, RISC-V with Svadu) and reports a fault where the table
 * refuses the access.
 */
@FunctionalInterface
public interface Stage2Walker {

  /** Walks for {@code walk}'s access; fills in a translation or a fault. */
  void walk(Stage2Walk walk);
}
