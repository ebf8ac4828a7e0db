package org.kvmmodel.core.config;

/**
 * A configuration the model refuses, with a one-line message that names the key path and what
 * is allowed there. Nothing has been changed when it is thrown.
 */
public final class SettingsException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public SettingsException(String message) {
    super(message);
  }

  public SettingsException(String message, Throwable cause) {
    super(message, cause);
  }
}
