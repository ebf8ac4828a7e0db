package org.kvmmodel.core.mm;

import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What a folio's {@code mapping} field points at: an anon_vma for anonymous memory or an
 * address_space for file memory. Together with the folio's {@code index} and the list of VMAs
 * that map this object (the anon_vma chain or the file's {@code i_mmap}), it yields every
 * (mm, address) that maps the folio, without any per-mapping object.
 *
 * <p>The VMA list is changed with {@link #iMmap}'s monitor held (anon_vma_lock_write /
 * i_mmap_lock_write); reverse-map walks hold it too, so they see no VMA half-split. It is not
 * this object's own monitor: a page-cache lookup (which the kernel does under RCU, not under
 * i_mmap_rwsem) must not wait for an rmap walk that is inside an mmu_notifier callback.
 */
abstract class FolioMapping {

  final int id;
  final CopyOnWriteArrayList<Vma> vmas = new CopyOnWriteArrayList<>();
  final Object iMmap = new Object();

  FolioMapping(int id) {
    this.id = id;
  }

  /** Whether folios of this mapping are anonymous. */
  abstract boolean isAnon();
}
