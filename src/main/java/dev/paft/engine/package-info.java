/** Starting DJL's PyTorch engine offline and choosing the device; imports DJL only. */
package dev.paft.engine;
