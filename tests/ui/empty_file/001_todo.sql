-- Migration 001: to do

