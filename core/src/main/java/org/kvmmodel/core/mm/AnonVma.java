package org.kvmmodel.core.mm;

/**
 * An anon_vma: the reverse-map root for anonymous folios faulted in through one VMA. After
 * fork the child's VMA is linked into every anon_vma its parent's VMA is linked into (the
 * anon_vma_chain), so a folio still shared with the parent is found in the child too, while
 * folios the child allocates belong to the child's own anon_vma.
 */
final class AnonVma extends FolioMapping {

  AnonVma(int id) {
    super(id);
  }

  @Override
  boolean isAnon() {
    return true;
  }
}
