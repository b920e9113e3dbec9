/**
 * Typed errors and the exit codes they map to; every package may import this one.
 *
 * <p>Import contract: floor 0; may import nothing.
 */
package dev.paft.errors;
