// Package faults is an HTTP reverse proxy, on 127.0.0.1, that sits between
// the AWS SDK clients under test and the moto emulator and injects what
// moto cannot produce: throttling, 5xx answers, refused or expired
// credentials, stacks that stay busy or end in a failed state
// (ROLLBACK_COMPLETE, UPDATE_ROLLBACK_FAILED, DELETE_FAILED…), the stack
// events that explain such failures, and answers to calls moto does not
// implement (ContinueUpdateRollback).
//
// It exists because the emulator has no failure states: moto's stacks go
// straight to *_COMPLETE, it never throttles, never fails with a 5xx and
// accepts any credentials. Everything else passes through to moto
// unchanged, so the code under test still runs the real SDK against a real
// server; only the faults are made up, and each test says which.
//
// It speaks the AWS query protocol (CloudFormation, Auto Scaling, EC2):
// requests are form posts naming an Action. It is test support only;
// production code must not import it.
package faults
