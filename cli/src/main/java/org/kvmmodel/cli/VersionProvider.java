package org.kvmmodel.cli;

import picocli.CommandLine.IVersionProvider;

/** Reports the version of the kvmmodel jar the command runs from. */
final class VersionProvider implements IVersionProvider {

  @Override
  public String[] getVersion() {
    String version = Main.class.getPackage().getImplementationVersion();
    return new String[] {"kvmmodel " + (version == null ? "development build" : version)};
  }
}
