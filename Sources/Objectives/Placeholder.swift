// Objectives
