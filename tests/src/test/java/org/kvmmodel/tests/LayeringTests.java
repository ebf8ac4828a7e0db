package org.kvmmodel.tests;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.assignableTo;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.kvmmodel.api.ArchPlugin;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The module dependency rules of the design: everything points one way, towards api. */
class LayeringTests {

  private static JavaClasses classes;

  @BeforeAll
  static void importClasses() {
    classes =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.kvmmodel");
  }

  @Test
  void apiDependsOnNothingElseOfOurs() {
    noClasses()
        .that().resideInAPackage("org.kvmmodel.api..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("org.kvmmodel.core..", "org.kvmmodel.arch..", "org.kvmmodel.tests..",
            "org.kvmmodel.mutants..", "org.kvmmodel.cli..", "org.kvmmodel.bench..")
        .check(classes);
  }

  @Test
  void apiHasNoGuiceAndNoConfigLibrary() {
    noClasses()
        .that().resideInAPackage("org.kvmmodel.api..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("com.google.inject..", "com.typesafe.config..", "com.google.common..")
        .check(classes);
  }

  @Test
  void archPluginsDependOnApiOnly() {
    noClasses()
        .that().resideInAPackage("org.kvmmodel.arch..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("org.kvmmodel.core..", "org.kvmmodel.tests..", "org.kvmmodel.cli..",
            "org.kvmmodel.mutants..", "com.google.inject..", "com.typesafe.config..")
        .check(classes);
  }

  @Test
  void coreDoesNotKnowAnyArch() {
    noClasses()
        .that().resideInAPackage("org.kvmmodel.core..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("org.kvmmodel.arch..", "org.kvmmodel.tests..", "org.kvmmodel.cli..",
            "org.kvmmodel.mutants..")
        .check(classes);
  }

  /** Mutants change real plugins from outside only: through the SPI, never their internals. */
  @Test
  void mutantsReachPluginsThroughTheSpiOnly() {
    noClasses()
        .that().resideInAPackage("org.kvmmodel.mutants..")
        .should().dependOnClassesThat(resideInAPackage("org.kvmmodel.arch..")
            .and(not(assignableTo(ArchPlugin.class))))
        .check(classes);
  }
}
