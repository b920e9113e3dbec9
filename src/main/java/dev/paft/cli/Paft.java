package dev.paft.cli;
public class Paft { public static void main(String[] a) { System.out.println("paft"); } }
