/** Typed errors and the exit codes they map to; every package may import this one. */
package dev.paft.errors;
