package org.kvmmodel.core.mm;

/**
 * A folio between the two halves of migration: unmapped to migration entries by
 * {@link HostMemory#migrateStart} and waiting for {@link HostMemory#migrateFinish}.
 * {@code generation} is the old folio's allocation generation, checked at finish.
 */
public record MigrationHandle(long oldPfn, int order, int generation) {}
