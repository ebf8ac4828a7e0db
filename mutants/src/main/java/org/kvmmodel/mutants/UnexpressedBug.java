package org.kvmmodel.mutants;

/**
 * A catalogued KVM bug the model cannot re-create yet, with what it waits for: the mechanism
 * (an arch, a kernel structure, a code path) a mutant of it would have to change.
 *
 * @param id the catalogue's id, e.g. {@code B03}
 * @param title what went wrong, in the catalogue's words
 * @param waitsFor what the model needs before the bug can be expressed
 */
public record UnexpressedBug(String id, String title, String waitsFor) {}
