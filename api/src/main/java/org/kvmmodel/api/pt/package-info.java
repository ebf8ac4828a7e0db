/**
 * A generic radix page-table engine for second-stage tables, in the spirit of Linux's
 * {@code drivers/iommu/generic_pt}: one traversal engine ({@link RadixPageTable} and its
 * per-thread {@link PageTableCursor}) parameterised by an architecture's geometry
 * ({@link PageTableGeometry}) and descriptor hooks ({@link PageTableFormat}).
 *
 * <p>The engine owns walking: descent, table creation, huge-leaf splitting, range operations
 * that skip empty subtrees, yielding the lock, and teardown. The architecture owns every entry
 * transition (install, replace, zap, attribute update, retiring the entries of an unlinked
 * table), so x86's cmpxchg and frozen SPTEs or arm64's break-before-make stay intact. Every
 * change to page-table memory and every table allocation, unlink and free is reported to a
 * {@link PageTableObserver}.
 *
 * <p>{@link DescriptorFormat} and {@link DecodedDescriptor} decode single descriptors for
 * people and tools.
 */
package org.kvmmodel.api.pt;
